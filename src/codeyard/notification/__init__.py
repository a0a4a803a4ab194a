"""E-mail notifications of ticket changes, sent after commit from a queue in the database."""
