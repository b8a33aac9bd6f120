"""What people do, once for every door: the console, the API and the CLI call these.

Each function asks `opsbinder.authorization` first (the one rule: role x action x client, and
lockdown), then does the work in the domain with the principal's name as actor. A door only
turns its input into arguments and the result (or the refusal) into its own answer.
"""
