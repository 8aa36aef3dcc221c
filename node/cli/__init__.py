"""The `qroc` command line."""
