"""The bot put together and run: ``app`` builds everything once (``build_app``), ``serving``
runs it (polling or webhook, signals, the loops' watch), ``running`` is what a running bot is
made of (read by the web server, the demo and the tests), ``clients`` makes the outward
clients (the Bot API session, Allpay, the conversation storage), ``web`` serves /healthz and
/metrics (``metrics``: the Prometheus figures and the vitals /healthz reads), ``preflight``
is ``python -m bot check``. Nothing below imports this layer."""
