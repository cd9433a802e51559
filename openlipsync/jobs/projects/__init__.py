"""A project's record from creation to settlement: create, claim, settle, refund, expire."""
