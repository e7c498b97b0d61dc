"""Products: what a sku is (name, category, brand). Order lines fill the table as they come
(the order import); a product file (product_import) sets it from the chain's catalogue."""
