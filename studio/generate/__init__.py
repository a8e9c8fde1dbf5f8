"""Data from models: new rows from a teacher (synthetic) and preference pairs from AI feedback (pairs).

synthetic: seed rows -> a teacher writes new instructions and answers -> the clean path -> rows.
pairs: prompts -> K sampled answers -> a jury of judges or a reward-model run scores them -> the
best and the worst become chosen and rejected (DPO, ORPO) and labelled rows (KTO).
Models are reached through studio.chat.backends (the studio's engine, a GGUF, an endpoint).
"""
