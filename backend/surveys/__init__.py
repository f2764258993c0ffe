"""Perception surveys: a community's or a party's reported trust in another party (SCORE, 0-10)."""
