"""botistat: analyze chatbot and LLM conversation logs."""

__version__ = "0.1.0"
