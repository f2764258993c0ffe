"""The mission dashboard: a Dash app served at `/` by the same process as the API."""

from dashboard.mount import mount_dashboard

__all__ = ["mount_dashboard"]
