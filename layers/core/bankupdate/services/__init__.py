"""How an update moves: shared by the use cases (which never import each other). Records change only through
``domain.lifecycle``; these modules save the transitions and carry out the steps they name."""
