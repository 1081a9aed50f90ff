"""Never pay twice, never overspend: the call cache, the spend ledger, the budget guard and provider slots."""
