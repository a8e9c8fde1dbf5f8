"""Chat: the base and adapters side by side.

- ``engine``: the one owner of the chat models, streaming replies column by column;
- ``adapter_bank``: adapters loaded into the one base and switched per column;
- ``sampling``: sampling settings and the next-token window;
- ``compare``: a batch of prompts through base and adapter; ``arena``: blind votes -> DPO pairs.
"""
