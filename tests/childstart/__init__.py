"""The start-up hook of the ``python -m bot`` children tests start (sitecustomize.py)."""
