"""What every CRM connector implements, and the shared pieces they are built from."""
