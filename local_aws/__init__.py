"""The embedded AWS: a moto server in this process and a runner that plays Lambda's part."""
