"""The HTTP API's request and response bodies: :mod:`api.schemas.common` (the building blocks:
strict request models, response models built from the domain's views, date-time and code types)
and one module per API area beside its router in :mod:`api.routers`."""
