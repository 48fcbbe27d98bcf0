"""API keys: issuing and revoking them (keys), and what a key's role and services let
it do (access)."""
