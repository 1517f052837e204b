"""The shallot_ws test suite; a package so that servers can import ``tests.server_apps``."""
