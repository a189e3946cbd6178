"""Put first on the module path, this makes ``import resource`` fail as it does on Windows."""

raise ImportError("No module named 'resource' (hidden: the tests run the Windows code path)")
