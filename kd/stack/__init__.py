"""Running the whole system as local processes (`kd up`), with the same command lines as docker-compose."""
