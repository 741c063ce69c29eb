"""Form parsing for the vaults pages: quick create, replication, subscriptions (``vaults``), the policy editor
(``policy``)."""
