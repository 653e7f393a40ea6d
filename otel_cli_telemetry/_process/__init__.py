"""What runs in the CLI process, and must stay cheap: consent, the command span (light
recorder, SDK on demand), the gate every finished span takes, the hand-off to the spool and
the launcher of the exporter child. Nothing here touches the network."""
