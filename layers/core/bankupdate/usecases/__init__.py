"""One module per entry point. A use case composes the domain with the ports it is handed (see ``composition``);
what several use cases share lives in ``bankupdate.services``, and no use case imports another."""
