"""Round Robin for Zendesk: the domain code shared by every Lambda function (deployed as a layer)."""
