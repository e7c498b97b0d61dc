"""Marshmallow schemas shared by app/api and app/staff."""
