"""Backup policies as plain Python: the rules (``rules``), when backups run (``schedule``), how long points are kept
(``retention``). No Django here: the models keep a policy's stored form, and the editor and the scheduler call these."""
