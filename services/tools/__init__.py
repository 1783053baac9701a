"""Built-in tools an agent can call. Each module holds one tool; `registry` lists them."""
