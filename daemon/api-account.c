/* SPDX-License-Identifier: MIT */
/*
 * The account side: api_keys.*, hosts.*, teams.*, users.* and channels.*
 * (notification channels). Every method is one REST pass-through
 * (rest_passthrough in rest.c) on a route that takes only a user JWT, so
 * this file is only their rows.
 */
#include "config.h"

#include "api.h"
#include "methods.h"

#define P_HOST_ID                                                              \
	{                                                                      \
		.name = "host_id", .type = METHODS_T_STRING,                   \
		.in = METHODS_IN_PATH,                                         \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "host id (host-...)"                                    \
	}

#define P_USER_ID                                                              \
	{                                                                      \
		.name = "user_id", .type = METHODS_T_STRING,                   \
		.in = METHODS_IN_PATH,                                         \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "user id (usr-...)"                                     \
	}

#define P_CHANNEL_ID                                                           \
	{                                                                      \
		.name = "channel_id", .type = METHODS_T_STRING,                \
		.in = METHODS_IN_PATH,                                         \
		.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,              \
		.doc = "channel id (ch-...)"                                   \
	}

/* channels.create and channels.update take the same two. */
#define P_CHANNEL_NAME                                                         \
	{                                                                      \
		.name = "name", .type = METHODS_T_STRING,                      \
		.in = METHODS_IN_BODY, .flags = METHODS_F_REQUIRED,            \
		.doc = "channel name"                                          \
	}
#define P_CHANNEL_EVENTS                                                       \
	{                                                                      \
		.name = "events", .type = METHODS_T_STRINGS,                   \
		.in = METHODS_IN_BODY, .flags = METHODS_F_REQUIRED,            \
		.doc = "event types to deliver"                                \
	}

static const struct methods_param p_api_keys_create[] = {
    {.name = "name",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "label (default \"Unnamed API Key\")"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_key[] = {
    {.name = "key_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_PATH,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "API key record id (key-...)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_hosts_create[] = {
    {.name = "type",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "regular or byoc"},
    {.name = "team_id",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "owning team (required for byoc)"},
    {.name = "provider",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "cloud provider label"},
    {.name = "availability_zone",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.doc = "availability zone label"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_host[] = {
    P_HOST_ID,
    METHODS_PARAMS_END,
};

static const struct methods_param p_hosts_delete[] = {
    P_HOST_ID,
    {.name = "force",
	.type = METHODS_T_BOOL,
	.in = METHODS_IN_QUERY,
	.doc = "destroy the host's sandboxes too"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_hosts_add_tag[] = {
    P_HOST_ID,
    {.name = "tag",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "tag to add"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_hosts_remove_tag[] = {
    P_HOST_ID,
    {.name = "tag",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_PATH,
	.flags = METHODS_F_REQUIRED | METHODS_F_NONEMPTY,
	.doc = "tag to remove"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_teams_create[] = {
    {.name = "name",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "team name"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_team[] = {
    METHODS_P_TEAM_ID,
    METHODS_PARAMS_END,
};

static const struct methods_param p_teams_rename[] = {
    METHODS_P_TEAM_ID,
    {.name = "name",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "new name"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_teams_add_member[] = {
    METHODS_P_TEAM_ID,
    {.name = "email",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "email of an existing user"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_teams_role[] = {
    METHODS_P_TEAM_ID,
    P_USER_ID,
    {.name = "role",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "admin or member"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_teams_member[] = {
    METHODS_P_TEAM_ID,
    P_USER_ID,
    METHODS_PARAMS_END,
};

static const struct methods_param p_users_search[] = {
    {.name = "email",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_QUERY,
	.flags = METHODS_F_REQUIRED,
	.doc = "email prefix (at least 3 characters with @)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_channels_create[] = {
    P_CHANNEL_NAME,
    {.name = "provider",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc =
	    "discord, slack, teams, googlechat, telegram, matrix or webhook"},
    {.name = "config",
	.type = METHODS_T_OBJECT,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "provider settings (strings)"},
    P_CHANNEL_EVENTS,
    METHODS_PARAMS_END,
};

static const struct methods_param p_channel[] = {
    P_CHANNEL_ID,
    METHODS_PARAMS_END,
};

static const struct methods_param p_channels_update[] = {
    P_CHANNEL_ID,
    P_CHANNEL_NAME,
    P_CHANNEL_EVENTS,
    METHODS_PARAMS_END,
};

static const struct methods_param p_channels_config[] = {
    P_CHANNEL_ID,
    {.name = "config",
	.type = METHODS_T_OBJECT,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "new provider settings (replaces the old)"},
    METHODS_PARAMS_END,
};

static const struct methods_param p_channels_test[] = {
    {.name = "provider",
	.type = METHODS_T_STRING,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "provider"},
    {.name = "config",
	.type = METHODS_T_OBJECT,
	.in = METHODS_IN_BODY,
	.flags = METHODS_F_REQUIRED,
	.doc = "provider settings"},
    METHODS_PARAMS_END,
};

static const struct methods_row api_account_rows[] = {
    /* API keys. */
    {
	.name = "api_keys.create",
	.summary = "create an API key (the key is shown once)",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/api-keys",
	.flags = METHODS_BODY,
	.params = p_api_keys_create,
    },
    {
	.name = "api_keys.list",
	.summary = "list the team's API keys",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/api-keys",
	.params = methods_no_params,
    },
    {
	.name = "api_keys.delete",
	.summary = "revoke an API key",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "DELETE",
	.path = "/v1/api-keys/{key_id}",
	.result = METHODS_RES_EMPTY,
	.params = p_key,
    },
    /* Hosts. */
    {
	.name = "hosts.create",
	.summary = "create a host and its registration token",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/hosts",
	.flags = METHODS_BODY,
	.params = p_hosts_create,
    },
    {
	.name = "hosts.list",
	.summary = "list hosts",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/hosts",
	.params = methods_no_params,
    },
    {
	.name = "hosts.get",
	.summary = "get one host",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/hosts/{host_id}",
	.params = p_host,
    },
    {
	.name = "hosts.delete",
	.summary = "delete a host (force: destroy its sandboxes)",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "DELETE",
	.path = "/v1/hosts/{host_id}",
	.result = METHODS_RES_EMPTY,
	.params = p_hosts_delete,
    },
    {
	.name = "hosts.delete_preview",
	.summary = "what deleting a host would destroy",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/hosts/{host_id}/delete-preview",
	.params = p_host,
    },
    {
	.name = "hosts.regenerate_token",
	.summary = "new registration token (pending hosts)",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/hosts/{host_id}/token",
	.params = p_host,
    },
    {
	.name = "hosts.list_tags",
	.summary = "list a host's tags (null when none)",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/hosts/{host_id}/tags",
	.params = p_host,
    },
    {
	.name = "hosts.add_tag",
	.summary = "tag a host",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/hosts/{host_id}/tags",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY,
	.params = p_hosts_add_tag,
    },
    {
	.name = "hosts.remove_tag",
	.summary = "untag a host",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "DELETE",
	.path = "/v1/hosts/{host_id}/tags/{tag}",
	.result = METHODS_RES_EMPTY,
	.params = p_hosts_remove_tag,
    },
    /* Teams. */
    {
	.name = "teams.list",
	.summary = "teams of the user",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/teams",
	.params = methods_no_params,
    },
    {
	.name = "teams.create",
	.summary = "create a team (caller becomes owner)",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/teams",
	.flags = METHODS_BODY,
	.params = p_teams_create,
    },
    {
	.name = "teams.get",
	.summary = "a team and its members",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/teams/{team_id}",
	.params = p_team,
    },
    {
	.name = "teams.rename",
	.summary = "rename a team",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "PATCH",
	.path = "/v1/teams/{team_id}",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY,
	.params = p_teams_rename,
    },
    {
	.name = "teams.delete",
	.summary = "delete a team and destroy its sandboxes",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "DELETE",
	.path = "/v1/teams/{team_id}",
	.result = METHODS_RES_EMPTY,
	.params = p_team,
    },
    {
	.name = "teams.list_members",
	.summary = "members of a team",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "GET",
	.path = "/v1/teams/{team_id}/members",
	.params = p_team,
    },
    {
	.name = "teams.add_member",
	.summary = "add a user by email",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/teams/{team_id}/members",
	.flags = METHODS_BODY,
	.params = p_teams_add_member,
    },
    {
	.name = "teams.update_member_role",
	.summary = "change a member's role",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "PATCH",
	.path = "/v1/teams/{team_id}/members/{user_id}",
	.result = METHODS_RES_EMPTY,
	.flags = METHODS_BODY,
	.params = p_teams_role,
    },
    {
	.name = "teams.remove_member",
	.summary = "remove a member",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "DELETE",
	.path = "/v1/teams/{team_id}/members/{user_id}",
	.result = METHODS_RES_EMPTY,
	.params = p_teams_member,
    },
    {
	.name = "teams.leave",
	.summary = "leave a team",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/teams/{team_id}/leave",
	.result = METHODS_RES_EMPTY,
	.params = p_team,
    },
    /* Users. */
    {
	.name = "users.search",
	.summary = "find users by email prefix",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/users/search",
	.params = p_users_search,
    },
    /* Notification channels. */
    {
	.name = "channels.create",
	.summary = "create a notification channel",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/channels",
	.flags = METHODS_BODY,
	.params = p_channels_create,
    },
    {
	.name = "channels.list",
	.summary = "list notification channels",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/channels",
	.params = methods_no_params,
    },
    {
	.name = "channels.get",
	.summary = "get a notification channel",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_USER,
	.verb = "GET",
	.path = "/v1/channels/{channel_id}",
	.params = p_channel,
    },
    {
	.name = "channels.update",
	.summary = "rename a channel or change its events",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "PATCH",
	.path = "/v1/channels/{channel_id}",
	.flags = METHODS_BODY,
	.params = p_channels_update,
    },
    {
	.name = "channels.delete",
	.summary = "delete a notification channel",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "DELETE",
	.path = "/v1/channels/{channel_id}",
	.result = METHODS_RES_EMPTY,
	.params = p_channel,
    },
    {
	.name = "channels.rotate_config",
	.summary = "replace a channel's provider settings",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "PUT",
	.path = "/v1/channels/{channel_id}/config",
	.flags = METHODS_BODY,
	.params = p_channels_config,
    },
    {
	.name = "channels.test",
	.summary = "deliver a test event without saving",
	.cred = ROLE_CRED_JWT,
	.role = ROLE_ADMIN,
	.verb = "POST",
	.path = "/v1/channels/test",
	.flags = METHODS_BODY,
	.params = p_channels_test,
    },
};

const struct api_table api_account_methods = API_TABLE(api_account_rows);
