"""After-sales service desk bot: wiring, configuration, i18n and the domain services."""
