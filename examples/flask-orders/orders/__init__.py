"""An orders service: Flask + psycopg 3 with a connection pool, as such services are
usually written."""
