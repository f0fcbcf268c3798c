"""Optional password gate (``VIRTUOSO_DASHBOARD__PASSWORD``): no default credentials, constant-time check."""

from __future__ import annotations

import hmac

import streamlit as st
from pydantic import SecretStr

from virtuoso.ui import keys


def password_ok(expected: SecretStr | None, given: str | None) -> bool:
    """True when no password is configured, or ``given`` equals it (compared in constant time)."""
    if expected is None:
        return True
    if not given:
        return False
    return hmac.compare_digest(expected.get_secret_value().encode("utf-8"), given.encode("utf-8"))


def signed_in(expected: SecretStr | None) -> bool:
    """Whether this session may see the dashboard (always, when no password is set)."""
    return expected is None or bool(st.session_state.get(keys.AUTHED))


def login_form(expected: SecretStr | None) -> None:
    """The sign-in page: one password field; a wrong password says so and reveals nothing else."""
    st.title("Virtuoso")
    st.caption("This dashboard is protected by a password (VIRTUOSO_DASHBOARD__PASSWORD).")
    with st.form("login"):
        given = st.text_input("Password", type="password", key=keys.PASSWORD)
        submitted = st.form_submit_button("Sign in")
    if submitted:
        if password_ok(expected, given):
            st.session_state[keys.AUTHED] = True
            st.rerun()
        else:
            st.error("Wrong password.")
