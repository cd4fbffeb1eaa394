"""The translation gateway: a FastAPI service that serves exported students (CTranslate2) over REST.

`create_app(settings)` builds the application; `python -m services.gateway` and `kd gateway` run it.
"""
