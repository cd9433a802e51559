"""What a project renders from: upload slots, and inputs fetched from URLs behind the SSRF guard."""
