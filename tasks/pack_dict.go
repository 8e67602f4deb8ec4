package tasks

// packDictText is format 1's dictionary (encoding.go): a made-up
// record in the packed layout, field names and the values most records
// share, the most common last (DEFLATE reaches the end of a dictionary
// cheapest). Never edit it: records packed with it are read with it.
const packDictText = `{"step":"failed","outcome":"retry","message":"swonkie: 429 Too Many Requests","permanent":true,"status":503},` +
	`"webhook":{"url":"https://","events":["attached"],"state":"delivered","attempts":1,"lastStatus":200,"deliveredAt":"2026-` +
	`{"type":"pipeline.succeeded","state":"pending","redeliveries":` +
	`"staleMedia":[{"reason":"upload window ran out","item":0}],"leftBehind":true,"cancelRequested":true,"postWithdrawn":true,"partial":true,` +
	`"labelIds":["labels"],"labels":["draft","review","schedule","never","postPublishAt":"2026-` +
	`"post":{"type":"STORY","REEL","LINK","STATUS","links":[{"url":"https://","title":"","description":"","net":"","mediaIndex":0}],` +
	`"captions":[{"net":"instagram","text":"","firstComment":""}],"facebook":"linkedin","tiktok","twitter","youtube","pinterest",` +
	`"contentType":"video/mp4","image/jpeg","image/png","name":".jpg",".mp4",".png","error":null,` +
	`{"r":{"id":"","key":"","request":{"media":[{"source":"https://cdn.example.com/media/","/srv/media/"}],` +
	`"post":{"type":"MEDIA","profileIds":["UHJvZmlsZUlk","UHJvZmlsZUlk"],"caption":"","publishAt":"2026-"},` +
	`"action":"publishNow","cleanup":"after-publish"},"fingerprint":"","trace":{"traceparent":"00-"}},` +
	`"d":{"state":"succeeded","step":"done","media":[{"source":"/srv/media/","name":"","contentType":"image/png",` +
	`"mediaId":"TWVkaWFJZD","status":"ready","bytes":262144,"generation":0,"mediaCreatedAt":"2026-12-07T06:00:00.000000000Z",` +
	`"confirmedAt":"2026-12-07T06:00:00.000000000Z","readyAt":"2026-12-07T06:00:00.000000000Z","deleted":true}],` +
	`"postId":"UG9zdElk","postCreated":true,"postType":"MEDIA","postStage":"PUBLISHED","staged":true,` +
	`"publication":[{"profileId":"UHJvZmlsZUlk","network":"facebook","publishStatus":"PUBLISHED"},` +
	`{"profileId":"UHJvZmlsZUlk","network":"instagram","publishStatus":"PUBLISHED"}],"attempts":6,"cleanup":"done",` +
	`"createdAt":"2026-12-07T06:00:00.000000000Z","updatedAt":"2026-12-07T06:00:00.000000000Z",` +
	`"attachedAt":"2026-12-07T06:00:00.000000000Z","publishedAt":"2026-12-07T06:00:00.000000000Z",` +
	`"finishedAt":"2026-12-07T06:00:00.000000000Z","in":{"progressAt":"2026-12-07T06:00:00.000000000Z","postAttempts":1}},` +
	`"h":[{"at":"2026-12-07T06:00:00.000000000Z","step":"accepted","outcome":"ok","message":"accepted 1 media"},` +
	`{"at":"2026-12-07T06:00:00.000000000Z","step":"upload","item":0,"outcome":"ok","message":"uploaded 262144 bytes to media TWVkaWFJZD"},` +
	`{"at":"2026-12-07T06:00:00.000000000Z","step":"confirm","item":0,"outcome":"ok","message":"confirmed media TWVkaWFJZD"},` +
	`{"at":"2026-12-07T06:00:00.000000000Z","step":"await","item":0,"outcome":"ok","message":"media TWVkaWFJZD is ready"},` +
	`{"at":"2026-12-07T06:00:00.000000000Z","step":"attach","outcome":"ok","message":"created post UG9zdElk"},` +
	`{"at":"2026-12-07T06:00:00.000000000Z","step":"attach","outcome":"ok","message":"publishNow post UG9zdElk"},` +
	`{"at":"2026-12-07T06:00:00.000000000Z","step":"publish","outcome":"ok","message":"post UG9zdElk is published"},` +
	`{"at":"2026-12-07T06:00:00.000000000Z","step":"cleanup","outcome":"ok","message":"deleted 1 media (after_publish)"}]}`

// packDict2Text is what format 2's dictionary adds to format 1's:
// pre-flight's findings (the probe of each media, the rules a post breaks
// or strains, with their sources) and the record's last fields as a
// pre-flighted single-media publication leaves them. Never edit it either.
const packDict2Text = `"problems":[{"severity":"error","item":"media[0] (","network":"tiktok","rule":"video.duration","value":"","limit":"",` +
	`"source":"https://developers.tiktok.com/doc/content-posting-api-reference-direct-post","message":"pre-flight: the post cannot publish: 1 problem(s): "}],` +
	`"https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api","https://developers.facebook.com/docs/threads/posts",` +
	`"https://support.google.com/youtube/answer/71673","https://docs.joinmastodon.org/user/posting/",` +
	`"warnings":[{"severity":"warning","item":"media[0] (","network":"instagram","rule":"image.width","value":"320 px","limit":"at least 320 px",` +
	`"source":"https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media",` +
	`"message":"media[0] () on instagram: the displayed width is 32 px; Instagram MEDIA takes at least 320 px (scaled up to 320 px)"}]},` +
	`"info":{"kind":"video","format":"mp4","mime":"video/mp4","width":1920,"height":1080,"displayWidth":1080,"displayHeight":1920,` +
	`"orientation":1,"rotation":90,"duration":,"videoCodec":"h264","audioCodec":"aac","animated":true},"error":"` +
	`{"at":"2026-12-07T06:00:00.000000000Z","step":"preflight","outcome":"ok","message":"pre-flight: 1 media probed, no problems"},` +
	`"preflight":{"at":"2026-12-07T06:00:00.000000000Z","media":[{"name":"","contentType":"image/png","size":262144,` +
	`"info":{"kind":"image","format":"png","mime":"image/png","width":1080,"height":1080,"displayWidth":1080,"displayHeight":1080,"orientation":1,"rotation":0}}]},` +
	`"network":"linkedin","publishStatus":"PUBLISHED"}],"attempts":7,"cleanup":"done",` +
	`"in":{"progressAt":"2026-12-07T06:00:00.000000000Z","postAttempts":1,"preflightOwed":true}}`
