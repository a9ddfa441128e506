from tests.support.webform_fixtures import access, make_user, make_webform, receiver, webform

__all__ = ["access", "make_user", "make_webform", "receiver", "webform"]
