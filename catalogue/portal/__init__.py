"""The portal's pages for people: views, the page assembly they share (pages.py) and the Jinja2
environment of the dataset table. Reads through the selectors (access in SQL); writes only through
the services of the other concerns."""
