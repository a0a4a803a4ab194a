"""Full-text search over the project (``/search``): the index, its query language and page."""
