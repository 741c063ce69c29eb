"""The portal's date and time formats per language (FORMAT_MODULE_PATH); templates name them, never spell them."""
