"""One folder per CRM: provider facts as data, client, mapping, connector and emulator."""
