"""The liqscope benchmark (`python -m bench`)."""
