"""A staff member's skills typed the way a Chinese keyboard lists things."""
from __future__ import annotations

from bot.services import staff, users


async def test_skills_typed_with_the_chinese_enumeration_comma_are_separate_skills(database, clock):
    """A zh engineer types "水泵、电柜；打印机" in /profile: three product lines, as dispatch matches them."""
    async with database.uow() as uow:
        await users.ensure_bootstrap_staff(uow, [500], "zh_Hans", clock.now())
        admin = await uow.users.by_telegram_id(500)
        staff.set_profile_field(admin, "skills", "水泵、电柜；打印机､ 水泵")
        await uow.commit()
    async with database.uow() as uow:
        assert (await uow.users.by_telegram_id(500)).skills == ["水泵", "电柜", "打印机"]
