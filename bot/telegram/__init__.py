"""Telegram side: thin aiogram handlers over the payment logic."""
