"""The mission dashboard (Dash). Until it lands, `/` serves a placeholder page from backend.app."""
