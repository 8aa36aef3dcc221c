"""Tabletop exercises: the MSEL loader and checks, pure and sans-IO like protocol/."""
