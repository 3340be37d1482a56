"""queue_post: one GroupPost per key, posted by the mirror's job after commit, into the nearest group."""
from sqlalchemy import func, select

from gateway.mirror.jobs import post
from gateway.mirror.outbound import POST_JOB, queue_post
from gateway.models import Area, GroupPost, OutboxMessage
from gateway.queue import drain, stats
from gateway.registry import import_string


def area(db, code):
    return db.scalar(select(Area).where(Area.code == code))


def test_the_job_name_is_the_post_job():
    assert import_string(POST_JOB) is post


def test_a_key_is_posted_once_after_commit(app, db, demo):
    kp5 = area(db, "KP5")
    first = queue_post(db, area=kp5, text="Thông báo", key="t:1")
    assert stats(app)["high"]["queued"] == 0  # nothing before the commit
    again = queue_post(db, area=kp5, text="Thông báo khác", key="t:1")
    db.commit()
    assert again.id == first.id and (first.target, first.chat_id, first.area_id) == ("outbox", "kp5-group", kp5.id)
    assert stats(app)["high"]["queued"] == 1
    drain(app)
    assert [m.body for m in db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "kp5-group"))] \
        == ["Thông báo"]


def test_one_per_group_posts_once_for_areas_sharing_a_group(app, db, demo):
    teams = [area(db, "KP5T1"), area(db, "KP5T2")]
    posts = {queue_post(db, area=a, text="x", key="ann:9:group", one_per_group=True).id for a in teams}
    db.commit()
    assert len(posts) == 1 and db.scalar(select(func.count(GroupPost.id))) == 1
    assert db.get(GroupPost, posts.pop()).chat_id == "kp5-group"


def test_no_group_up_the_tree_posts_nothing(app, db, demo):
    for a in db.scalars(select(Area)):
        a.group_target = None
    assert queue_post(db, area=area(db, "KP5"), text="x", key="t:2") is None
    db.commit()
    assert db.scalar(select(func.count(GroupPost.id))) == 0 and stats(app)["high"]["queued"] == 0


def test_in_group_of_and_reply_to(app, db, demo):
    commune = area(db, "KP5").parent
    first = queue_post(db, area=None, in_group_of=commune, text="a", key="r:1")
    first.message_id = "m-1"
    reply = queue_post(db, area=None, in_group_of=commune, text="b", key="r:2", reply_to_key="r:1")
    assert (reply.chat_id, reply.area_id, reply.reply_to) == ("tanlap-main", None, "m-1")
