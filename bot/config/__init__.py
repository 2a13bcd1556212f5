"""The settings, built once from the environment (``settings``: the model and the rules that
weigh settings together; ``checks``: each single value's check). Imports neither the store
nor the Allpay protocol: every layer reads settings."""
