"""Routes of this domain (to be written)."""

from fastapi import APIRouter

router = APIRouter()
