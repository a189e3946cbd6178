"""Taking files from the inbox: watching, settling, sandboxed validation, recording and answering each submission."""
