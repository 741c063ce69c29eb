"""The vaults app's pages, thin: each view parses its input, finds its objects through ``vault_or_404``, calls
one service or operation, and renders the result or turns a ``Refusal`` into a notice."""
