"""Okta Verify on the user's phone: TOTP codes, push answers, enrolment by QR contents."""
