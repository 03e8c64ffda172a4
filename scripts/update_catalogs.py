"""Re-extract messages from the code and merge them into locales/*/LC_MESSAGES/messages.po.

Run after changing user-visible strings: `.venv/bin/python scripts/update_catalogs.py`,
then translate what it reports as missing (the catalog test fails until you do).
"""
from bot.catalogs import update_catalogs

if __name__ == "__main__":
    for language, count in update_catalogs().items():
        print(f"{language}: {count} message(s) without a translation")
