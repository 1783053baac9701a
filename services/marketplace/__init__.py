"""The marketplace: sellers list published agent versions, others browse, install and review.

Modules by what they hold: `listings` (publish, new versions, the read scopes), `media`
(icons and screenshots), `details` (a listing page in one read), `search`
(browse and full-text search), `installs`, `reviews`, `moderation` (the instance admin's
queue), `badges` (the verified tier), `text` (Markdown to safe HTML), `storage` (icons and
screenshots). Money (Stripe) is not here yet: a price is stored and shown, and a paid listing
cannot be installed until billing arrives.
"""
