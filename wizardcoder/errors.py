"""Errors a user can fix. The CLI turns them into a clear message and exit code 2."""


class UserError(Exception):
    """Bad input: a config key, a file, a field. The message names it and says how to fix it."""


class ConfigError(UserError):
    """A config file or override is wrong (unknown key, wrong type, missing file)."""
