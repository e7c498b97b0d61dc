"""Member benefits: the birthday gift (birthday_gifts)."""
